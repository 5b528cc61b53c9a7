/*
 * Fused optimiser updates, one work item per parameter element. The formulas
 * follow torch.optim.SGD, Adam and AdamW of PyTorch 1.13 (single-tensor path,
 * no amsgrad, no maximize); the host computes the per-step scalars.
 */

/* Plain SGD: p -= lr * (g + weight_decay * p). */
__kernel void sgd_step(int n, float lr, float weight_decay, __global float *param,
                       __global const float *grad)
{
    int i = get_global_id(0);
    if (i >= n)
        return;
    float p = param[i];
    float d = grad[i] + weight_decay * p;
    param[i] = p - lr * d;
}

/*
 * SGD with momentum. On the first step the buffer is set to the decayed
 * gradient (no dampening), as PyTorch does when the buffer does not exist yet.
 */
__kernel void sgd_momentum_step(int n, float lr, float weight_decay, float momentum,
                                float dampening, int nesterov, int first_step,
                                __global float *param, __global const float *grad,
                                __global float *momentum_buffer)
{
    int i = get_global_id(0);
    if (i >= n)
        return;
    float p = param[i];
    float d = grad[i] + weight_decay * p;
    float buf = first_step ? d : momentum * momentum_buffer[i] + (1.0f - dampening) * d;
    momentum_buffer[i] = buf;
    float update = nesterov ? d + momentum * buf : buf;
    param[i] = p - lr * update;
}

/*
 * Adam and AdamW. param_scale is 1 - lr * weight_decay for AdamW (decoupled
 * decay) and 1 for Adam; weight_decay is the L2 term added to the gradient
 * (0 for AdamW). step_size = lr / (1 - beta1^t) and
 * bias_correction2_sqrt = sqrt(1 - beta2^t). eps is added outside the sqrt.
 */
__kernel void adam_step(int n, float step_size, float bias_correction2_sqrt, float beta1,
                        float beta2, float eps, float weight_decay, float param_scale,
                        __global float *param, __global const float *grad,
                        __global float *exp_avg, __global float *exp_avg_sq)
{
    int i = get_global_id(0);
    if (i >= n)
        return;
    float p = param[i] * param_scale;
    float g = grad[i] + weight_decay * p;
    float m = beta1 * exp_avg[i] + (1.0f - beta1) * g;
    float v = beta2 * exp_avg_sq[i] + (1.0f - beta2) * g * g;
    exp_avg[i] = m;
    exp_avg_sq[i] = v;
    float denom = sqrt(v) / bias_correction2_sqrt + eps;
    param[i] = p - step_size * (m / denom);
}

/* Increments the optimiser's step counter on the device, so no host write drains the queue. */
__kernel void count_step(__global int *step)
{
    if (get_global_id(0) == 0)
        step[0] += 1;
}
