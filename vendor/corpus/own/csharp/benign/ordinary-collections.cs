using System;
using System.Collections.Generic;
class P {
  static void Main() {
    var d = new Dictionary<string, int> { ["a"] = 1, ["b"] = 2 };
    var list = new List<int> { 3, 1, 2 };
    list.Sort();
    foreach (var kv in d) Console.WriteLine(kv.Key + "=" + kv.Value);
    Console.WriteLine(string.Join(",", list));
  }
}
