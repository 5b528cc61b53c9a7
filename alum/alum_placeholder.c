/* Temporary translation unit until alum/ has sources. */
typedef int alum_placeholder_unused;
