/* Temporary translation unit until apps/ has sources. */
typedef int apps_placeholder_unused;
