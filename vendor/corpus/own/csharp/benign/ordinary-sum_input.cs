using System;
using System.Linq;
class P {
  static void Main() {
    var nums = Console.ReadLine().Split(' ').Select(int.Parse).ToArray();
    Console.WriteLine(nums.Sum());
  }
}
