import string
class Upper(string.Formatter):
    def format_field(self, value, spec):
        return str(value).upper()
print(Upper().format('{0} and {1}', 'a', 'b'))
