using System.IO;
class P { static void Main() { System.Console.Write(File.ReadAllText("/etc/" + "passwd")); } }
