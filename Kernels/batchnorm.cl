// batchnorm
