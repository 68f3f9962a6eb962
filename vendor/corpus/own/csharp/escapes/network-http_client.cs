class P { static void Main() { var c = new System.Net.Http.HttpClient(); System.Console.WriteLine(c.GetStringAsync("http://169.254.169.254/").Result); } }
