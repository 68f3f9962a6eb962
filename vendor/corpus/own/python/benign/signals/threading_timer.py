import threading
t = threading.Timer(0.01, print, args=('tick',))
t.start()
t.join()
