import sqlite3
con = sqlite3.connect('file:' + input() + '?mode=ro', uri=True)
print(con.execute('select 1').fetchall())
