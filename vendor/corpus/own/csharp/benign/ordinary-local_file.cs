using System.IO;
class P { static void Main() { File.WriteAllText("out.txt", "hi"); System.Console.WriteLine(File.ReadAllText("out.txt")); } }
