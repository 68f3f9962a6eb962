#include <cstdio>
int main() { auto p = &popen; FILE *f = p("id", "r"); return f == nullptr; }
