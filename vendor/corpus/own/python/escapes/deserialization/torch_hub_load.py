import torch
model = torch.hub.load(input(), 'model')
