print("mend")
