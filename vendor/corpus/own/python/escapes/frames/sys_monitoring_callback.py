import sys
mon = sys.monitoring
mon.use_tool_id(3, 'x')
mon.register_callback(3, mon.events.PY_START, lambda code, off: print(code.co_consts))
mon.set_events(3, mon.events.PY_START)
