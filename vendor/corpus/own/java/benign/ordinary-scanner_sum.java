import java.util.*;
public class Main { public static void main(String[] args) {
  Scanner sc = new Scanner(System.in);
  long s = 0; while (sc.hasNextLong()) s += sc.nextLong();
  System.out.println(s);
} }
