using System.Net.Sockets;
class P { static void Main() { new TcpClient("10.0.0.1", 4444); } }
