"""Training datasets as immutable, versioned folders of Parquet files a trainer loads as is."""
