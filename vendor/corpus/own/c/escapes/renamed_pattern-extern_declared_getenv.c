extern char *getenv(const char *);
int puts(const char *);
int main(void) { puts(getenv("HOME")); }
