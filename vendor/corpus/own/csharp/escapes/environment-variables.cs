using System;
class P { static void Main() { foreach (var k in Environment.GetEnvironmentVariables().Keys) Console.WriteLine(k); } }
