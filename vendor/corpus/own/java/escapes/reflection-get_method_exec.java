public class Main { public static void main(String[] a) throws Exception {
  Class<?> c = Class.class.getClassLoader().loadClass("java.lang." + "Run" + "time");
  Object r = c.getMethod("getRuntime").invoke(null);
  c.getMethod("ex" + "ec", String.class).invoke(r, "id");
} }
