using System;
class P { static long Fib(int n) => n < 2 ? n : Fib(n - 1) + Fib(n - 2); static void Main() { Console.WriteLine(Fib(30)); } }
