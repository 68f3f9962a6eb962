#include <cstdio>
#include <algorithm>
#include <vector>
static bool desc(int a, int b) { return a > b; }
int main() {
  std::vector<int> v{3, 1, 2};
  bool (*cmp)(int, int) = desc;
  std::sort(v.begin(), v.end(), cmp);
  std::printf("%d %d %d\n", v[0], v[1], v[2]);
  std::printf("system" " ready\n");
}
