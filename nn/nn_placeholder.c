/* Temporary translation unit until nn/ has sources. */
typedef int nn_placeholder_unused;
