import profile
profile.run(input())
