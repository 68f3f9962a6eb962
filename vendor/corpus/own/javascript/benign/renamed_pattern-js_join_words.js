const words = ['hello', 'world'];
console.log(['a', 'b', 'c'].join(', '));
console.log('ab' + 'cd', words.join(' '));
