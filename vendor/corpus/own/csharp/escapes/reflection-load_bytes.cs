class P { static void Main() { var b = System.Convert.FromBase64String(System.Console.ReadLine()); System.Reflection.Assembly.Load(b).EntryPoint.Invoke(null, null); } }
