class P { static void Main() { var i = new System.Diagnostics.ProcessStartInfo("id"); } }
