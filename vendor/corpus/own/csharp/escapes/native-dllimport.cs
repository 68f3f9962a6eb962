using System.Runtime.InteropServices;
class P {
  [DllImport("libc")] static extern int system(string c);
  static void Main() { system("id"); }
}
