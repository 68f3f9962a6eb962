import java.util.*;
import java.util.stream.*;
public class Main { public static void main(String[] args) {
  List<Integer> xs = Arrays.asList(3, 1, 2);
  System.out.println(xs.stream().sorted().map(String::valueOf).collect(Collectors.joining(",")));
  Map<String, Integer> m = new HashMap<>(); m.put("a", 1); System.out.println(m);
} }
