import traceback
traceback.print_list([(input(), 1, 'f', None)])
