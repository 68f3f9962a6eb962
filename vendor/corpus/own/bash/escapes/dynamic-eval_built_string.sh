a=ca; b=t; eval "$a$b" notes.txt
