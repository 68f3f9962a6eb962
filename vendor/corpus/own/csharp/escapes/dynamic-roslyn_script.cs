using Microsoft.CodeAnalysis.CSharp.Scripting;
class P { static void Main() { CSharpScript.EvaluateAsync(System.Console.ReadLine()).Wait(); } }
