const s = 'racecar';
console.log(s.split('').reverse().join('') === s, 'abc'.split('').reverse().join(''));
