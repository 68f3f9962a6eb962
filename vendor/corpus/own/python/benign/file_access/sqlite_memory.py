import sqlite3
con = sqlite3.connect(':memory:')
con.execute('create table t(x)')
con.executemany('insert into t values (?)', [(1,), (2,)])
print(con.execute('select sum(x) from t').fetchone())
