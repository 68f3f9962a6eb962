async def c():
    pass
co = c()
print('{0.cr_frame.f_locals}'.format(co))
co.close()
