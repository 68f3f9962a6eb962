#include <stdio.h>
#define GREETING "Hello, " "world"
int main(void) {
  printf("%s\n", GREETING);
  printf("a" "b" "\n");
  return 0;
}
