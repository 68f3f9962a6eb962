using System;
using System.Text;
class P { static void Main() { var sb = new StringBuilder(); for (int i = 0; i < 5; i++) sb.Append(i).Append(' '); Console.WriteLine(sb.ToString().Trim()); } }
