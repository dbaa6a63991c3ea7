"""Ray Serve adapters: ingress, router, scorers, embedder and FAISS lookup over the alertsieve core."""
