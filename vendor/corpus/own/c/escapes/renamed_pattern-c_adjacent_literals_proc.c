#include <stdio.h>
int main(void) {
  FILE *f = fopen("/" "proc/self/status", "r");
  char b[256];
  while (fgets(b, sizeof b, f)) fputs(b, stdout);
}
