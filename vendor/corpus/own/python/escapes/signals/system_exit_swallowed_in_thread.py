import threading
def spin():
    while True:
        try:
            pass
        except (KeyboardInterrupt, SystemExit):
            pass
threading.Thread(target=spin).start()
