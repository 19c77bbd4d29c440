"""Early stopping: the policies for using all data afterwards, and its equivalence to L2 regularization."""
