import sys
from types import TracebackType, FrameType
try:
    1 / 0
except Exception:
    match sys.exc_info()[2]:
        case TracebackType(tb_frame=FrameType(f_globals=g)):
            print(g)
