cat > x.c <<'C'
int main(){return 0;}
C
gcc x.c -o x && ./x
