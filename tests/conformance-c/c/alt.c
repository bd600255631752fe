/* The hand-written callees again, in the other x86-64 convention, named `..._alt`. */
#define JC_ALT 1
#include "so.c"
#include "checks.c"
