using System;
class P { static void Main() { var a = AppDomain.CurrentDomain; var t = Type.GetType("System.Diagnostics." + "Process"); } }
