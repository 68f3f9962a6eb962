using System;
record Point(int X, int Y);
class P { static void Main() { var p = new Point(1, 2); Console.WriteLine($"{p.X},{p.Y} {p}"); } }
