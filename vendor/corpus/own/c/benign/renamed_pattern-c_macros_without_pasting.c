#include <stdio.h>
#define MAX(a, b) ((a) > (b) ? (a) : (b))
#define STR(x) #x
int main(void) { printf("%d %s\n", MAX(2, 3), STR(ok)); return 0; }
