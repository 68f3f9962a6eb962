class P { static unsafe void Main() { int* p = (int*)0x1000; *p = 1; } }
