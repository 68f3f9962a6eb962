using System;
using System.Linq;
class P { static void Main() { var q = from n in Enumerable.Range(1, 20) where n % 2 == 0 select n * n; Console.WriteLine(string.Join(" ", q)); } }
