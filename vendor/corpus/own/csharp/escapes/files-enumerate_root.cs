using System.IO;
class P { static void Main() { foreach (var f in Directory.GetFiles("..")) System.Console.WriteLine(f); } }
