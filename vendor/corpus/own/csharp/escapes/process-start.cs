using System.Diagnostics;
class P { static void Main() { Process.Start("/bin/sh", "-c id"); } }
