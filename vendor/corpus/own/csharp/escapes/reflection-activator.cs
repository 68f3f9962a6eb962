using System;
class P { static void Main() { var o = Activator.CreateInstance(Type.GetType(Console.ReadLine())); } }
