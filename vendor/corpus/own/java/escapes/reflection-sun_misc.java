public class Main { public static void main(String[] a) throws Exception {
  var f = Class.class.getClassLoader().getClass();
  Object u = sun.reflect.ReflectionFactory.getReflectionFactory();
} }
